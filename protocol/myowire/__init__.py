"""myowire: the myostride wire format, shared by node firmware and host."""
