<?php
// Lido sample: default document of the /php application.
$self = htmlspecialchars($_SERVER['SCRIPT_NAME'] ?? '', ENT_QUOTES, 'UTF-8');
?>
<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>Lido sample: PHP</title>
</head>
<body>
    <h1>PHP works</h1>
    <p>This is <code><?= $self ?></code>, run by PHP <?= htmlspecialchars(PHP_VERSION) ?> in process <?= getmypid() ?>.</p>
    <p><a href="hello.php">hello.php</a> &middot; <a href="/">back to the sample site</a></p>
</body>
</html>
