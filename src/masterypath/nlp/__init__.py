"""Text models behind the small interfaces that the domain defines (optional ``nlp`` extra)."""
