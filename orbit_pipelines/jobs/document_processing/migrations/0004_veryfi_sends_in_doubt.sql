-- Documents sent to Veryfi whose outcome is not known: the attempt got no answer that says whether Veryfi
-- processed (and billed) them (a timeout, a dropped connection, a 5xx other than 503), or it ended before
-- it could tell (a crash). Only these are looked up by external_id before they are sent again; a document
-- whose last answer was a 429 or a 4xx is sent again without asking, and its row is gone.
CREATE TABLE orbit.veryfi_sends_in_doubt (
    document_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
