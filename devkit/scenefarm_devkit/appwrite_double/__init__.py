"""A local Appwrite stand-in: the TablesDB and Storage endpoints the `appwrite` SDK calls.

What belongs here: in-memory databases, tables, columns (with the `processing` -> `available`
transition), indexes, rows with permissions, buckets and files with chunked uploads, Appwrite's
JSON shapes and error bodies, the API key check, a request log and fault injection (statuses,
delays, dropped chunks, outages). Served by `AppwriteDouble` (async), `AppwriteDoubleThread`, or
`python -m scenefarm_devkit.appwrite_double --port N`.
"""

from scenefarm_devkit.appwrite_double.faults import Fault, FaultPlan, RequestRecord
from scenefarm_devkit.appwrite_double.server import AppwriteDouble, AppwriteDoubleThread

__all__ = ["AppwriteDouble", "AppwriteDoubleThread", "Fault", "FaultPlan", "RequestRecord"]
