<?php
$config = require __DIR__ . '/../config/app.php';
$release = @file_get_contents(__DIR__ . '/../REVISION') ?: 'unknown';
header('Content-Type: text/plain; charset=utf-8');
printf("%s\n", getenv('GREETING'));
printf("app: %s, environment: %s\n", $config['name'], getenv('APP_ENV'));
printf("served by: %s, release: %s\n", getenv('SERVED_BY'), trim($release));
printf("client: %s\n", $_SERVER['REMOTE_ADDR'] ?? '-');
