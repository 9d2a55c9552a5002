import HVDaemon

DaemonMain.run()
