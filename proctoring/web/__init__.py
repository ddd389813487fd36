"""The observer module's pages and public endpoints: the live board and rankings, the audit
trail and its stream, the log's checkpoint, entries and proofs, the openings of sealed
entries, the forensic review queue and the fairness report."""
