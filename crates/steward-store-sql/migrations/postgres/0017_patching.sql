-- Reserved: version 17 is patching's (0017_patching.sql on the patch
-- branch, which replaces this file when the branches meet). Nothing here.
SELECT 1;
