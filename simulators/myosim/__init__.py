"""myosim: the simulated walking patient, node clocks, virtual air and bleak backend."""
