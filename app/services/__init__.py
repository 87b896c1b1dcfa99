"""One package per external system: pure transforms, the handlers the dispatcher calls, syncs.

Each package exposes one service object built from exactly the collaborators it needs and a
`register(dispatcher)` method; `app.bridge` builds and registers them all.
"""
