DROP INDEX events_by_accepted;
DROP INDEX deliveries_finished_by_updated;
