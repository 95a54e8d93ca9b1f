"""document_processing: upload to S3 -> Veryfi extraction -> stored result -> summary."""
