"""The catalog: items, places, tags, their history and fields, CSV transfer and labels."""
