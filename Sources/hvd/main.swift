import HVDaemon
DaemonMain.run()
