DROP TABLE app_servers;
