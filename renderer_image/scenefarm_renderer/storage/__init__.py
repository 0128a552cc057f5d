"""The artifact store a render writes to and a combine reads from: `store` (the interface, the
shared-volume store and `open_store`) and `appwrite_store` (Appwrite Storage, chunked uploads
verified complete)."""
