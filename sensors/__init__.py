"""Hardware drivers, one module per sensor family, each a robofuse Source.

Drivers know the messages, the errors and the Source interface, and nothing of alignment,
fusion or ROS. They arrive with the sensor-driver work (camera via OpenCV, LIDAR over UDP and
serial, IMU over serial, audio); until then this package only reserves the name.
"""
