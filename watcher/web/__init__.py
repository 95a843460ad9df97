"""The editors' workspace (`watcher serve`): the store and feeds.yaml in a browser."""
