DROP TABLE run_logs;
DROP TABLE runs;
