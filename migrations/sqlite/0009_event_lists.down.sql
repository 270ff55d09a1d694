DROP INDEX deliveries_by_webhook;
DROP INDEX events_by_customer_type_time;
DROP INDEX events_by_customer_time;
