<?php
// Lido sample: a PHP script run by php-cgi through the FastCGI handler.
header('Content-Type: text/plain; charset=utf-8');

echo "Hello from PHP, served by Lido!\n\n";
echo 'PHP version: ', PHP_VERSION, "\n";
echo 'php-cgi pid: ', getmypid(), "\n";
echo 'Server API:  ', PHP_SAPI, "\n";
