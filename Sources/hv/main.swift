import HVCommands

HVMain.run()
