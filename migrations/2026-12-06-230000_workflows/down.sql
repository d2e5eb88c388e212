DROP TABLE workflow_task_runs;
DROP TABLE workflow_runs;
DROP TABLE workflows;
