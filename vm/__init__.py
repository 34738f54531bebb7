"""The appliance VM: qemu's command line, the qemu process, and warm launch.

* :mod:`pyguestfs.vm.qemu` -- every qemu command line (the appliance's, the KVM probe's)
  from a frozen :class:`~pyguestfs.vm.qemu.MachineConfig` (the user's settings) and a
  :class:`~pyguestfs.vm.qemu.LaunchPlan` (what one launch needs);
* :mod:`pyguestfs.vm.machine` -- :class:`~pyguestfs.vm.machine.Machine`, one qemu process
  with a strict lifecycle (a context manager), and :class:`~pyguestfs.vm.machine.LaunchError`;
* :mod:`pyguestfs.vm.accel` -- KVM where it truly works, else TCG;
* :mod:`pyguestfs.vm.qmp` -- a minimal QMP client;
* :mod:`pyguestfs.vm.snapshot` -- warm launch: save a booted appliance, restore it;
* :mod:`pyguestfs.vm.agentcall` -- the single calls warm launch makes to the agent.

It depends on :mod:`pyguestfs.protocol` and :mod:`pyguestfs.core` only, so that both the
builder (``guestfs-build-appliance --snapshot``) and the host library can use it.
"""
