# Opens the Qlik engine with the session `qs-jwt login-* --output session` printed (read from
# standard input), and asks who the engine thinks the user is. Python 3.9+, pip install websockets.
# QLIK_CA names a CA certificate file for a server the system does not trust (optional).
import json
import os
import ssl
import sys

from websockets.sync.client import connect

bundle = json.load(sys.stdin)
context = ssl.create_default_context(cafile=os.environ.get("QLIK_CA"))
with connect(
    bundle["websocketUrl"],
    additional_headers={"Cookie": bundle["cookie"]},
    origin=bundle["origin"],
    ssl=context,
) as engine:
    request = {"jsonrpc": "2.0", "id": 1, "handle": -1, "method": "GetAuthenticatedUser", "params": {}}
    engine.send(json.dumps(request))
    while True:
        message = json.loads(engine.recv())
        if message.get("id") == 1:
            print(message["result"]["qReturn"])
            break
