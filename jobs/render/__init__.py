"""Rendering jobs: the job's states (lifecycle), the one lease machine (leases) and its
heartbeat thread, the job log, the queue a job goes to, the plan and claims of a long job's
segments (segment_plan), and the worker that runs them (worker/)."""
