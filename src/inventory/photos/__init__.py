"""Photos of items: uploads checked by content, processing, storage and maintenance."""
