"""Run the Functions app on a developer's machine without Azure or Core Tools (`make start`).

launch.py starts Azurite and the ACI emulator as the settings require, then `func start`
or the local host (host.py) that serves function_app.py's triggers as host.json says.
Not deployed (.funcignore): the Functions host does this job in Azure.
"""
