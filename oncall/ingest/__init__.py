"""Alert ingest: pure payload normalisers and request authentication, under the HTTP adapter."""
