DROP TABLE job_shares;
DROP TABLE job_revisions;
DROP TABLE jobs;
DROP TABLE connection_shares;
DROP TABLE connections;
