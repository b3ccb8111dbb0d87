"""Server-rendered pages: page shells plus one local script and stylesheet (no CDN)."""
