"""The realtime tier: a python-socketio ASGI server (Fargate), and the local all-in-one server."""
