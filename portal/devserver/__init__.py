"""What `portal serve` adds for editors: the rebuild loop's status, shared with the service
workers through one small file, the live-reload events and script, and the terminal report.

Nothing here is part of a deployed site: `portal build` output never loads the script.
"""
