DROP TABLE run_launch_refusals;
