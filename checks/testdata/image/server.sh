#!/bin/sh
# A shell script standing in for the server: not an ELF executable.
exec busybox httpd -f -p 8080
