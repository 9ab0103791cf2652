"""portal: the command line and the static-site builder."""
