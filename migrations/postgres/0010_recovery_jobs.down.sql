DROP TABLE recovery_jobs;
