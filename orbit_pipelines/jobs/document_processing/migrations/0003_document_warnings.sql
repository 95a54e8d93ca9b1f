-- The fields of Veryfi's answer that did not validate and were stored as null (or dropped from a list),
-- each naming the field and the value it had: the document is stored with them, never lost for them.
ALTER TABLE orbit.documents ADD COLUMN warnings JSONB NOT NULL DEFAULT '[]';
