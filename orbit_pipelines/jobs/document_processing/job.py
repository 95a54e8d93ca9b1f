from orbit_pipelines.jobs.document_processing.models import KIND
from orbit_pipelines.jobs.document_processing.ops import (
    load_documents,
    store_documents,
    summarize,
    upload_and_extract,
)
from orbit_pipelines.runtime.jobs import task_job


@task_job(KIND, "Upload documents to S3, extract them with Veryfi, store the results, summarise the batch.")
def document_processing():
    summarize(store_documents(upload_and_extract(load_documents())))
