<?php
// The release hook: runs once per cluster per deploy, before the switch
// (where a real app runs its migrations).
$dir = __DIR__ . '/../storage';
@mkdir($dir, 0775, true);
file_put_contents("$dir/releases.log", date('c') . ' ' . (getenv('APP_ENV') ?: '-') . "\n", FILE_APPEND);
echo "release hook done\n";
