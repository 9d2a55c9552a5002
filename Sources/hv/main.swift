import HVCommands
HVMain.run()
