"""`scenefarm download`: a request's files from the artifact volume or Appwrite Storage, verified."""
