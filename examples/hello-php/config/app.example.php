<?php
return ['name' => 'hello-php'];
