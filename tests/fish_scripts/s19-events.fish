# mode: standalone
# event handlers: registering, listing (names sorted as libguestfs), deleting; the
# close handler runs when the shell closes its handle
event ev1 close 'echo closed $EVENT'
event ev2 launch,subp "echo x"
event ev3 * "echo all"
list-events
-event bad nosuch "x"
-event a b
delete-event ev3
-delete-event ev3
list-events
