-- The live event stream (observability/stream): every task_events row, once its transaction commits,
-- wakes the stream server's one listening connection with NOTIFY orbit_events '<id>'. The payload is
-- only a wake-up: each client reads the rows after its last id from the table, so a notification lost
-- or coalesced loses no event, and rows written by any code (new kinds of rows included) are streamed.
CREATE OR REPLACE FUNCTION orbit.notify_task_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orbit_events', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER task_events_notify AFTER INSERT ON orbit.task_events
    FOR EACH ROW EXECUTE FUNCTION orbit.notify_task_event();
