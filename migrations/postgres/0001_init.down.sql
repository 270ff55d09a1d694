DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE webhooks;
DROP TABLE settings;
DROP TABLE users;
DROP TABLE customers;
