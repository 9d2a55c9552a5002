// SPDX-License-Identifier: GPL-2.0
/*
 * hv_ivshmem: the guest side of hv's events. Drives QEMU's ivshmem-doorbell
 * device (1af4:1110 with MSI-X), one per set of events the guest is in
 * (hv.ev=0f,0e: their PCI slots), and gives user space /dev/hv_ivshmem.SS
 * for the device in slot SS (hex):
 *   read(16 bytes)  -> { u64 interrupts so far, u32 this peer's id, u32 0 };
 *                      the first read on an open file answers at once, later
 *                      ones block until the next interrupt (poll() works);
 *   ioctl(HV_IVSHMEM_TIMEOUT, &ms) -> later blocking reads of this file give
 *                      up after ms milliseconds with ETIMEDOUT (0: never);
 *   write(4 bytes)  -> rings the doorbell: (peer id << 16) | vector.
 * The events table itself is the device's BAR2, mapped through sysfs.
 * A device and its node live as long as a file has it open, so a device
 * that goes (unplugged) while a reader sleeps leaves nothing dangling.
 *
 * Why two ways to sleep: PREEMPT_RT runs an ordinary interrupt handler in a
 * FIFO thread, so a wake-up through it costs the guest a switch to that
 * thread before the reader runs. The handler here runs in hard interrupt
 * context (IRQF_NO_THREAD) and wakes blocked readers itself through a list
 * under a raw spinlock (the one kind of lock PREEMPT_RT leaves spinning);
 * poll()'s wait queue takes a sleeping lock there, so poll() sleepers are
 * woken from a thread, and only when there are any.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/interrupt.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/kref.h>
#include <linux/slab.h>

#define HV_IVSHMEM_TIMEOUT _IOW('h', 1, __u32)

#define IVSHMEM_IVPOSITION 8
#define IVSHMEM_DOORBELL 12

struct hv_ivshmem {
	struct pci_dev *pdev;
	void __iomem *regs;
	atomic64_t irqs;
	wait_queue_head_t wq;		/* poll() */
	raw_spinlock_t lock;		/* readers */
	struct list_head readers;	/* struct hv_reader, blocked in read() */
	struct miscdevice misc;
	char name[24];			/* hv_ivshmem.SS */
	struct kref ref;		/* the probe's, and each open file's */
	bool gone;			/* removed: its registers are unmapped */
};

struct hv_reader {
	struct list_head node;
	struct task_struct *task;
};

struct hv_file {
	struct hv_ivshmem *dev;
	u64 seen;
	bool first;
	long timeout;	/* jiffies, MAX_SCHEDULE_TIMEOUT: none */
};

static irqreturn_t hv_ivshmem_hardirq(int irq, void *data)
{
	struct hv_ivshmem *dev = data;
	struct hv_reader *r;
	unsigned long flags;

	atomic64_inc(&dev->irqs);
	raw_spin_lock_irqsave(&dev->lock, flags);
	list_for_each_entry(r, &dev->readers, node)
		wake_up_process(r->task);
	raw_spin_unlock_irqrestore(&dev->lock, flags);
	return wq_has_sleeper(&dev->wq) ? IRQ_WAKE_THREAD : IRQ_HANDLED;
}

static irqreturn_t hv_ivshmem_thread(int irq, void *data)
{
	struct hv_ivshmem *dev = data;

	wake_up_interruptible(&dev->wq);
	return IRQ_HANDLED;
}

/* Sleeps until the count passes f->seen: 0, -ETIMEDOUT or -ERESTARTSYS. */
static int hv_sleep(struct hv_ivshmem *dev, struct hv_file *f)
{
	struct hv_reader me = { .task = current };
	long left = f->timeout;
	int ret = 0;

	raw_spin_lock_irq(&dev->lock);
	list_add_tail(&me.node, &dev->readers);
	for (;;) {
		/* Set before the check: an interrupt after it finds us on the list and wakes us. */
		set_current_state(TASK_INTERRUPTIBLE);
		if ((u64)atomic64_read(&dev->irqs) != f->seen)
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (!left) {
			ret = -ETIMEDOUT;
			break;
		}
		raw_spin_unlock_irq(&dev->lock);
		left = schedule_timeout(left);
		raw_spin_lock_irq(&dev->lock);
	}
	__set_current_state(TASK_RUNNING);
	list_del(&me.node);
	raw_spin_unlock_irq(&dev->lock);
	return ret;
}

static void hv_free(struct kref *ref)
{
	kfree(container_of(ref, struct hv_ivshmem, ref));
}

static int hv_open(struct inode *inode, struct file *file)
{
	/* misc_open hands us the miscdevice that was opened: it is the device's own. */
	struct hv_ivshmem *dev = container_of(file->private_data, struct hv_ivshmem, misc);
	struct hv_file *f;

	if (READ_ONCE(dev->gone))
		return -ENODEV;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	kref_get(&dev->ref);
	f->dev = dev;
	f->first = true;
	f->timeout = MAX_SCHEDULE_TIMEOUT;
	file->private_data = f;
	return 0;
}

static int hv_release(struct inode *inode, struct file *file)
{
	struct hv_file *f = file->private_data;

	kref_put(&f->dev->ref, hv_free);
	kfree(f);
	return 0;
}

static ssize_t hv_read(struct file *file, char __user *buf, size_t len, loff_t *off)
{
	struct hv_file *f = file->private_data;
	struct hv_ivshmem *dev = f->dev;
	u32 out[4];
	u64 now;
	int ret;

	if (READ_ONCE(dev->gone))
		return -ENODEV;
	if (len < sizeof(out))
		return -EINVAL;
	if (!f->first) {
		if (file->f_flags & O_NONBLOCK) {
			if ((u64)atomic64_read(&dev->irqs) == f->seen)
				return -EAGAIN;
		} else {
			ret = hv_sleep(dev, f);
			if (ret)
				return ret;
		}
	}
	now = atomic64_read(&dev->irqs);
	f->seen = now;
	f->first = false;
	if (READ_ONCE(dev->gone))
		return -ENODEV;
	out[0] = (u32)now;
	out[1] = (u32)(now >> 32);
	out[2] = ioread32(dev->regs + IVSHMEM_IVPOSITION);
	out[3] = 0;
	if (copy_to_user(buf, out, sizeof(out)))
		return -EFAULT;
	return sizeof(out);
}

static ssize_t hv_write(struct file *file, const char __user *buf, size_t len, loff_t *off)
{
	struct hv_file *f = file->private_data;
	u32 value;

	if (len != sizeof(value))
		return -EINVAL;
	if (copy_from_user(&value, buf, sizeof(value)))
		return -EFAULT;
	if (READ_ONCE(f->dev->gone))
		return -ENODEV;
	iowrite32(value, f->dev->regs + IVSHMEM_DOORBELL);
	return sizeof(value);
}

static long hv_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hv_file *f = file->private_data;
	u32 ms;

	if (cmd != HV_IVSHMEM_TIMEOUT)
		return -ENOTTY;
	if (copy_from_user(&ms, (void __user *)arg, sizeof(ms)))
		return -EFAULT;
	/* More than a day is "never" too: msecs_to_jiffies saturates anyway. */
	f->timeout = (ms == 0 || ms > 86400000u) ? MAX_SCHEDULE_TIMEOUT : (long)msecs_to_jiffies(ms);
	return 0;
}

static __poll_t hv_poll(struct file *file, poll_table *wait)
{
	struct hv_file *f = file->private_data;

	if (READ_ONCE(f->dev->gone))
		return EPOLLERR;
	poll_wait(file, &f->dev->wq, wait);
	if (f->first || (u64)atomic64_read(&f->dev->irqs) != f->seen)
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static const struct file_operations hv_fops = {
	.owner = THIS_MODULE,
	.open = hv_open,
	.release = hv_release,
	.read = hv_read,
	.write = hv_write,
	.poll = hv_poll,
	.unlocked_ioctl = hv_ioctl,
	.llseek = noop_llseek,
};

static int hv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct hv_ivshmem *dev;
	int ret;

	/* ivshmem-plain has no MSI-X: its memory is used through sysfs alone. */
	if (!pdev->msix_cap)
		return -ENODEV;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	kref_init(&dev->ref);
	ret = pcim_enable_device(pdev);
	if (ret)
		goto put;
	ret = pcim_iomap_regions(pdev, 1 << 0, "hv_ivshmem");
	if (ret)
		goto put;
	dev->regs = pcim_iomap_table(pdev)[0];
	/* MSI-X messages are memory writes by the device: it must be bus master. */
	pci_set_master(pdev);
	dev->pdev = pdev;
	atomic64_set(&dev->irqs, 0);
	init_waitqueue_head(&dev->wq);
	raw_spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->readers);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (ret < 0)
		goto put;
	snprintf(dev->name, sizeof(dev->name), "hv_ivshmem.%02x", PCI_SLOT(pdev->devfn));
	ret = request_threaded_irq(pci_irq_vector(pdev, 0), hv_ivshmem_hardirq, hv_ivshmem_thread,
				   IRQF_NO_THREAD, dev->name, dev);
	if (ret)
		goto vectors;
	pci_set_drvdata(pdev, dev);
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = &hv_fops;
	dev->misc.mode = 0600;
	ret = misc_register(&dev->misc);
	if (ret)
		goto irq;
	dev_info(&pdev->dev, "hv events doorbell /dev/%s, peer %u\n", dev->name, ioread32(dev->regs + IVSHMEM_IVPOSITION));
	return 0;
irq:
	free_irq(pci_irq_vector(pdev, 0), dev);
vectors:
	pci_free_irq_vectors(pdev);
put:
	kref_put(&dev->ref, hv_free);
	return ret;
}

static void hv_remove(struct pci_dev *pdev)
{
	struct hv_ivshmem *dev = pci_get_drvdata(pdev);
	struct hv_reader *r;
	unsigned long flags;

	misc_deregister(&dev->misc);
	free_irq(pci_irq_vector(pdev, 0), dev);
	pci_free_irq_vectors(pdev);
	/* Files still open now fail with ENODEV; a sleeping reader wakes to see it. */
	WRITE_ONCE(dev->gone, true);
	atomic64_inc(&dev->irqs);
	raw_spin_lock_irqsave(&dev->lock, flags);
	list_for_each_entry(r, &dev->readers, node)
		wake_up_process(r->task);
	raw_spin_unlock_irqrestore(&dev->lock, flags);
	wake_up_interruptible(&dev->wq);
	kref_put(&dev->ref, hv_free);
}

static const struct pci_device_id hv_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },
	{ 0 }
};
MODULE_DEVICE_TABLE(pci, hv_ids);

static struct pci_driver hv_driver = {
	.name = "hv_ivshmem",
	.id_table = hv_ids,
	.probe = hv_probe,
	.remove = hv_remove,
};
module_pci_driver(hv_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hv events over ivshmem doorbells");
