from dagster import in_process_executor, job

from orbit_pipelines.jobs.document_processing.ops import (
    load_documents,
    store_documents,
    summarize,
    upload_and_extract,
)
from orbit_pipelines.runtime.lifecycle import record_task_failure


# In-process: the work is I/O bound and already concurrent inside each op (bounded pools);
# processes per step would cost seconds each on a small machine.
@job(
    executor_def=in_process_executor,
    hooks={record_task_failure},
    tags={"orbit/kind": "document"},
    description="Upload documents to S3, extract them with Veryfi, store the results, summarise the batch.",
)
def document_processing():
    summarize(store_documents(upload_and_extract(load_documents())))
