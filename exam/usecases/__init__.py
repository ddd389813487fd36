"""The use cases: what the committee, the applicants and the server do (open an exam,
start, answer, finish, enroll, close, retire, publish, appeal …). Each takes explicit
inputs (a database session, the clock reading, plain values), calls the pure core, writes
the change and appends its audit events in the caller's transaction. Their refusals are
domain errors with a reason and a kind (``exam.errors``), never an HTTP status."""
