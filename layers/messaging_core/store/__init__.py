"""Repository adapters: MongoDB (pymongo async) and an in-memory one for tests and `make run`."""
