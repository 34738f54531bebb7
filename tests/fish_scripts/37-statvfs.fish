# statvfs on the first disk's filesystem
mkdir /s37
statvfs /s37
