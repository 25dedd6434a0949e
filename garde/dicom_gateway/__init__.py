"""The DICOM gateway: where studies enter Garde.

- `scp.Gateway`: the C-ECHO / C-STORE service provider of one process;
- `workers.GatewayWorkers`: several gateway processes on one port, each new association
  taken by the least loaded one (`balance`);
- `scu`: `push` and `echo`, so a hospital can test its link (`garde push`, `garde echo`).

Each received instance is checked (calling AE, UIDs, transfer syntax), written durably
(temporary file, fsync, atomic rename) and indexed through the
`garde.dispatch.ports.InstanceIndex` port before the sender hears success.
"""
