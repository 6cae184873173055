"""reid-myplugin: a minimal reid plugin (copy and rename)."""
